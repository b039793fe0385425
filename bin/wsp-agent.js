#!/usr/bin/env node
// Runs the built headless agent (npm run build makes out/main/wsp-agent.js).
const path = require('node:path');
const built = path.join(__dirname, '..', 'out', 'main', 'wsp-agent.js');
try {
  require.resolve(built);
} catch {
  console.error('wsp-agent: not built yet. Run `npm run build` in the project folder first.');
  process.exit(1);
}
require(built).main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`wsp-agent: ${error.message}`);
    process.exit(1);
  },
);
