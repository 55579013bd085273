/** Connection URLs for the real services, from env vars with the machine's defaults. */
export const POSTGRES_URL = process.env.CUTOVER_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MYSQL_URL = process.env.CUTOVER_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const REDIS_URL = process.env.CUTOVER_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** Filled in by the backend issue; for now no server-backed test exists. */
export async function checkServices(): Promise<void> {}
