// Starts one of the npm emulators on 127.0.0.1 for spool's aws tests and prints "READY <port>" once it
// listens. The emulators' own command lines bind every interface; this binds loopback only.
//
//   node serve.mjs TOOLS_DIR fauxqs PORT
//   node serve.mjs TOOLS_DIR s3rver PORT DATA_DIR
//
// TOOLS_DIR is where scripts/install-aws-tools.sh ran `npm ci`; PORT 0 lets the kernel choose, and the
// line printed carries the port actually bound. Nothing else goes to stdout: the test reads it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [toolsDir, service, portArg, dataDir] = process.argv.slice(2);
const port = Number.parseInt(portArg ?? "", 10);
if (!toolsDir || !service || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("usage: node serve.mjs TOOLS_DIR fauxqs|s3rver PORT [DATA_DIR]");
  process.exit(2);
}
const modules = path.join(path.resolve(toolsDir), "node_modules");
const host = "127.0.0.1";

// fauxqs is an ES module whose package exports only an "import" entry, so it is loaded by file URL
// (an ES import from this file would look for node_modules next to it, not in TOOLS_DIR).
async function importPackage(name) {
  const dir = path.join(modules, name);
  const pkg = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
  const entry = pkg.exports?.["."]?.import?.default ?? pkg.exports?.["."]?.import ?? pkg.main;
  return import(pathToFileURL(path.join(dir, entry)).href);
}

async function startFauxqs() {
  const { buildApp } = await importPackage("fauxqs");
  const app = buildApp({ logger: false });
  await app.listen({ port, host });
  return { port: app.server.address().port, stop: () => app.close() };
}

async function startS3rver() {
  if (!dataDir) throw new Error("s3rver needs a DATA_DIR");
  const S3rver = createRequire(path.join(modules, "noop.js"))("@20minutes/s3rver");
  const server = new S3rver({ address: host, port, directory: dataDir, silent: true, vhostBuckets: false });
  const bound = await server.run();
  return { port: bound.port, stop: () => server.close() };
}

const starters = { fauxqs: startFauxqs, s3rver: startS3rver };
if (!starters[service]) {
  console.error(`serve.mjs: unknown service "${service}" (fauxqs or s3rver)`);
  process.exit(2);
}

try {
  const running = await starters[service]();
  const stop = () => {
    Promise.resolve(running.stop()).finally(() => process.exit(0));
    // A keep-alive connection the client never closes must not keep the process up.
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdout.write(`READY ${running.port}\n`);
} catch (err) {
  console.error(`serve.mjs: ${service} did not start: ${err?.stack ?? err}`);
  process.exit(1);
}
