DEPS_source-declarative-manifest = $(LIBLOWCODE)
LIBS_source-declarative-manifest = -lfyaml
