/** URL of the test hart-command module, for Machine.boot({ commandModules }). */
export const HART_TEST_COMMANDS = new URL('./hart-test-commands.ts', import.meta.url).href;
