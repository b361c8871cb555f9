.keys = ["id", "org"] | .props = {a: 1, b: [1, 2]} | .empty = {x: {y: "z"}}
