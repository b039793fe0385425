#!/usr/bin/env node
// A task bot: claims every open task in the project, reports progress, and marks it done.
// Run after `npm run build`:
//   node examples/task-bot.mjs --data-dir ~/.task-bot --invite 'http://…/#invite=…' --name task-bot
//   node examples/task-bot.mjs --data-dir ~/.task-bot        (later: the invite and name are saved)
// Stop it with Ctrl-C. The "work" here is a pause; put the real job in `work()`.
import { parseArgs } from 'node:util';
import agentLib from '../out/main/wsp-agent.js';

const { openAgent } = agentLib;
const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, invite: { type: 'string' }, name: { type: 'string' }, bind: { type: 'string' } } });
if (!values['data-dir']) {
  console.error('usage: task-bot.mjs --data-dir DIR [--invite LINK --name NAME] [--bind ADDR]');
  process.exit(2);
}

const agent = await openAgent({
  dataDir: values['data-dir'],
  ...(values.invite ? { invite: values.invite } : {}),
  ...(values.name ? { name: values.name } : {}),
  ...(values.bind ? { bindAddress: values.bind } : {}),
});
console.log(`${agent.name} (${agent.peerId}) in ${agent.project}`);

const working = new Set();
/** @param {import('../out/main/wsp-agent.js').AgentTask} task */
async function work(task) {
  working.add(task.id);
  try {
    await agent.tasks.claim(task.id, 'on it');
    await agent.status('working', task.title);
    for (const percent of [25, 50, 75]) {
      await new Promise((r) => setTimeout(r, 200)); // the real work goes here
      await agent.tasks.progress(task.id, percent);
    }
    await agent.tasks.done(task.id, 'finished by the task bot');
    console.log(`done: ${task.title}`);
  } finally {
    working.delete(task.id);
    if (!working.size) await agent.status('idle');
  }
}

// Open tasks already in the log, then every new one (the log catches up once a teammate links).
const pickUp = () => {
  for (const task of agent.tasks.list()) if (task.state === 'open' && !working.has(task.id)) void work(task).catch((e) => console.error(e.message));
};
agent.on('entry', ({ entry }) => entry.kind === 'task' && pickUp());
pickUp();

const stop = async () => {
  await agent.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
