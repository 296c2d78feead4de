#!/usr/bin/env node
// Validates an AsyncAPI document with the AsyncAPI Initiative's own parser (@asyncapi/parser,
// pinned in package.json), offline: the document has no remote references.
// Usage: node scripts/validate-asyncapi.cjs docs/asyncapi.yaml
// Prints one line per diagnostic, then a JSON summary of the parsed document on the last line;
// exits 1 when the parser reports an error (a warning does not fail it).
"use strict";

const { Parser, fromFile } = require("@asyncapi/parser");

const SEVERITY = ["error", "warning", "information", "hint"];

async function main(path) {
  if (!path) {
    console.error("usage: node scripts/validate-asyncapi.cjs FILE");
    return 2;
  }
  const parser = new Parser();
  const { document, diagnostics } = await fromFile(parser, path).parse();
  for (const diagnostic of diagnostics) {
    const where = (diagnostic.path || []).join(".") || "(document)";
    console.log(`${SEVERITY[diagnostic.severity] || diagnostic.severity}: ${diagnostic.code}: ${where}: ${diagnostic.message}`);
  }
  const errors = diagnostics.filter((diagnostic) => diagnostic.severity === 0);
  if (!document || errors.length > 0) {
    console.log(JSON.stringify({ valid: false, errors: errors.length }));
    return 1;
  }
  const summary = {
    valid: true,
    version: document.version(),
    title: document.info().title(),
    channels: document.channels().all().map((channel) => channel.address()),
    operations: Object.fromEntries(
      document.operations().all().map((operation) => [operation.id(), operation.action()]),
    ),
    messages: document.components().messages().all().map((message) => message.name()),
  };
  console.log(JSON.stringify(summary));
  return 0;
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error && error.stack ? error.stack : String(error));
    process.exit(2);
  },
);
