/** The store commands: push, pull, lookup, list, delete. */
import type { Command } from 'commander';
import { registerPull } from './pull';
import { registerPush } from './push';
import { registerQueries } from './query';

export function registerStoreCommands(program: Command): void {
  registerPush(program);
  registerPull(program);
  registerQueries(program);
}
