import { ConfigurationError } from '../core/errors.js';
import { openStateStore } from './state-store.js';

/** Asks a running migration to stop after its batch in flight; returns the migration id. */
export async function pause(id: string, options: { state?: string } = {}): Promise<{ id: string; requested: boolean; status: string }> {
  const state = openStateStore(options.state);
  try {
    const row = state.listMigrations(id)[0];
    if (!row) throw new ConfigurationError(`no migration "${id}" in ${state.path}; "cutover status" lists them`);
    const requested = state.requestPause(row.id);
    if (requested) state.audit(row.id, 'pause-requested', { by: process.pid });
    return { id: row.id, requested, status: row.status };
  } finally {
    state.close();
  }
}
