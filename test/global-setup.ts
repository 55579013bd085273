/**
 * Runs once before the suite: under CI=true every service the tests need must answer, or the run
 * fails here, loudly, instead of tests skipping.
 */
export default async function setup(): Promise<void> {
  const { checkServices } = await import('./helpers/services.js');
  await checkServices();
}
