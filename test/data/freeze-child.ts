/**
 * Child process for the freeze kill test: runs freeze.enable's freezeSource with the real code, so the
 * parent can SIGKILL it while its transaction is open.
 *
 *   node node_modules/jiti/lib/jiti-cli.mjs test/data/freeze-child.ts <source url> <record file> <window> <tables,...> <roles,...>
 */
import { databaseAt } from '../../src/adapters/postgres.js';
import { freezeSource } from '../../src/steps/data/freeze.js';

const [sourceUrl, recordFile, window, tableList, roleList] = process.argv.slice(2) as [string, string, string, string, string];
await freezeSource({ source: databaseAt(sourceUrl, 'source'), tables: tableList.split(','), appRoles: roleList.split(','), recordFile, window });
process.stdout.write('finished\n');
