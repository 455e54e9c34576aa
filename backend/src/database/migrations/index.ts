// Landed migrations, oldest first. Never edit one that has landed; add a new one.
import { Init1795268896372 } from './1795268896372-Init.js';
import { RealtimeEvents1795862869311 } from './1795862869311-RealtimeEvents.js';
import { UserCharacters1795869009113 } from './1795869009113-UserCharacters.js';
import { SharedState1795869575167 } from './1795869575167-SharedState.js';
import { MessageSearch1796400000000 } from './1796400000000-MessageSearch.js';
import { ToolCalls1796500000000 } from './1796500000000-ToolCalls.js';

export const migrations = [
  Init1795268896372,
  RealtimeEvents1795862869311,
  UserCharacters1795869009113,
  SharedState1795869575167,
  MessageSearch1796400000000,
  ToolCalls1796500000000,
];
