#!/usr/bin/env node
// Independent Airbyte protocol validator for sluice's tests.
//
// usage: node tests/node/validate-protocol.js [--spec PATH] [--require-types RECORD,STATE,...] FILE...
//
// Every non-empty line of every FILE must be a JSON document valid against the
// AirbyteMessage definition of the official Airbyte protocol schema (the YAML
// is the contract; it is read, never copied into the project). Blank lines are
// ignored; anything else that is not JSON is an error, since the files checked
// here are meant to hold protocol output only. FILE may be "-" for stdin.
//
// The schema path is --spec, else $SLUICE_PROTOCOL_SPEC, else
// <repo>/../shared/spec/airbyte_protocol.yaml (<repo> = two levels above this
// script).
//
// Beyond the schema, one convention of the protocol that the schema does not
// express is checked: a message of type T carries its payload member (RECORD
// -> record, STATE -> state, ...). `{"type":"RECORD"}` is schema-valid but
// means nothing; --schema-only turns this check off.
//
// Output: up to 20 errors as `FILE:LINE: message`, then a summary line
// `protocol: N messages valid in M files (types: RECORD=..., ...)`.
// Exit status: 0 all valid; 1 an invalid line or a --require-types type never
// seen; 2 usage error (bad flag, unreadable file or schema).
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const yaml = require('js-yaml');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const MAX_PRINTED = 20;

// type -> payload member, from the protocol documentation (AirbyteMessage).
const PAYLOAD = {
  RECORD: 'record',
  STATE: 'state',
  LOG: 'log',
  SPEC: 'spec',
  CONNECTION_STATUS: 'connectionStatus',
  CATALOG: 'catalog',
  TRACE: 'trace',
  CONTROL: 'control',
  DESTINATION_CATALOG: 'destination_catalog',
};

function usage(msg) {
  if (msg) process.stderr.write(`validate-protocol: ${msg}\n`);
  (msg ? process.stderr : process.stdout).write(
    'usage: node validate-protocol.js [--spec PATH] [--require-types RECORD,STATE,...] ' +
      '[--schema-only] FILE...\n'
  );
  process.exit(msg ? 2 : 0);
}

function fail(msg) {
  process.stderr.write(`validate-protocol: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opt = { spec: null, require: [], schemaOnly: false, files: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--spec') opt.spec = value();
    else if (a.startsWith('--spec=')) opt.spec = a.slice(7);
    else if (a === '--require-types') opt.require.push(...value().split(','));
    else if (a.startsWith('--require-types=')) opt.require.push(...a.slice(16).split(','));
    else if (a === '--schema-only') opt.schemaOnly = true;
    else if (a === '-h' || a === '--help') usage();
    else if (a === '--') opt.files.push(...argv.slice(i + 1)), (i = argv.length);
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else opt.files.push(a);
  }
  opt.require = opt.require.map((t) => t.trim()).filter(Boolean);
  if (opt.files.length === 0) usage('no FILE given');
  return opt;
}

function specPath(opt) {
  if (opt.spec) return opt.spec;
  if (process.env.SLUICE_PROTOCOL_SPEC) return process.env.SLUICE_PROTOCOL_SPEC;
  const repo = path.resolve(__dirname, '..', '..');
  return path.join(repo, '..', 'shared', 'spec', 'airbyte_protocol.yaml');
}

function compile(file) {
  let doc;
  try {
    doc = yaml.load(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`cannot load protocol schema ${file}: ${e.message}`);
  }
  if (!doc || typeof doc !== 'object' || !doc.definitions || !doc.definitions.AirbyteMessage)
    fail(`${file}: no definitions.AirbyteMessage`);
  // The YAML is a draft-07 schema for a wrapper object; validate against its
  // AirbyteMessage definition by pointing the root at it. Its own root keywords
  // (type/properties/title) are dropped so only the $ref applies.
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: doc.$id || 'airbyte_protocol.yaml',
    definitions: doc.definitions,
    $ref: '#/definitions/AirbyteMessage',
  };
  // strict: false because the schema carries non-standard keywords
  // (existingJavaType) for Airbyte's code generators.
  const ajv = new Ajv({ strict: false, allErrors: false });
  addFormats(ajv);
  try {
    return ajv.compile(schema);
  } catch (e) {
    fail(`${file}: cannot compile AirbyteMessage: ${e.message}`);
  }
}

function errorText(errors) {
  return errors
    .map((e) => {
      let s = `${e.instancePath || '/'} ${e.message}`;
      if (e.keyword === 'enum' && e.params && e.params.allowedValues)
        s += ` (${e.params.allowedValues.join(', ')})`;
      else if (e.keyword === 'additionalProperties' && e.params)
        s += ` (${e.params.additionalProperty})`;
      return s;
    })
    .join('; ');
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const validate = compile(specPath(opt));

  const counts = {};
  let valid = 0;
  let invalid = 0;
  let printed = 0;
  const report = (file, line, msg) => {
    invalid++;
    if (printed < MAX_PRINTED) {
      process.stdout.write(`${file}:${line}: ${msg}\n`);
      printed++;
    }
  };

  for (const file of opt.files) {
    let input;
    if (file === '-') input = process.stdin;
    else {
      try {
        fs.accessSync(file, fs.constants.R_OK);
      } catch (e) {
        fail(`cannot read ${file}: ${e.code || e.message}`);
      }
      input = fs.createReadStream(file, { encoding: 'utf8' });
    }
    const rl = readline.createInterface({ input, crlfDelay: Infinity });
    let n = 0;
    for await (const text of rl) {
      n++;
      if (text.trim() === '') continue;
      let msg;
      try {
        msg = JSON.parse(text);
      } catch (e) {
        const shown = text.length > 60 ? `${text.slice(0, 60)}...` : text;
        report(file, n, `not JSON (${e.message}): ${shown}`);
        continue;
      }
      if (!validate(msg)) {
        report(file, n, errorText(validate.errors));
        continue;
      }
      const member = PAYLOAD[msg.type];
      if (!opt.schemaOnly && member && !(member in msg)) {
        report(file, n, `type ${msg.type} without its "${member}" member`);
        continue;
      }
      valid++;
      counts[msg.type] = (counts[msg.type] || 0) + 1;
    }
  }

  if (invalid > printed) process.stdout.write(`... ${invalid - printed} more errors not shown\n`);
  const types = Object.keys(counts)
    .sort()
    .map((t) => `${t}=${counts[t]}`)
    .join(', ');
  let summary = `protocol: ${valid} messages valid in ${opt.files.length} files (types: ${types || 'none'})`;
  if (invalid) summary += `; ${invalid} invalid`;
  process.stdout.write(summary + '\n');

  const missing = opt.require.filter((t) => !counts[t]);
  if (missing.length) process.stdout.write(`protocol: required types never seen: ${missing.join(', ')}\n`);
  // The closing line counts messages; a required type never seen counts as a failure too.
  process.stdout.write(`protocol: ${valid} passed, ${invalid + missing.length} failed\n`);
  process.exit(invalid || missing.length ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`validate-protocol: ${e.stack || e}\n`);
  process.exit(2);
});
