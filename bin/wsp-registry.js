#!/usr/bin/env node
// Runs the built standalone registry (npm run build makes out/main/wsp-registry.js).
const path = require('node:path');
const built = path.join(__dirname, '..', 'out', 'main', 'wsp-registry.js');
try {
  require.resolve(built);
} catch {
  console.error('wsp-registry: not built yet. Run `npm run build` in the project folder first.');
  process.exit(1);
}
require(built).main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`wsp-registry: ${error.message}`);
    process.exit(2);
  },
);
