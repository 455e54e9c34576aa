// ESLint finds the config nearest to each file: this folder's is the root's, minus the clients
// run.mjs generates (never committed).
import root from '../../eslint.config.js';

export default [{ ignores: ['generated/**'] }, ...root];
