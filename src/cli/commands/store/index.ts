/** The store commands: push, pull, lookup, list, delete, and referrer push|pull|list|delete. */
import type { Command } from 'commander';
import { registerPull } from './pull';
import { registerPush } from './push';
import { registerQueries } from './query';
import { registerReferrer } from './referrer';

export function registerStoreCommands(program: Command): void {
  registerPush(program);
  registerPull(program);
  registerQueries(program);
  registerReferrer(program);
}
