// Landed migrations, oldest first. Never edit one that has landed; add a new one.
import { Init1795268896372 } from './1795268896372-Init.js';
import { RealtimeEvents1795862869311 } from './1795862869311-RealtimeEvents.js';

export const migrations = [Init1795268896372, RealtimeEvents1795862869311];
