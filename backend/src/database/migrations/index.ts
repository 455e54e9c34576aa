// Landed migrations, oldest first. Never edit one that has landed; add a new one.
import { Init1795268896372 } from './1795268896372-Init.js';
import { RealtimeEvents1795862869311 } from './1795862869311-RealtimeEvents.js';
import { UserCharacters1795869009113 } from './1795869009113-UserCharacters.js';
import { SharedState1795869575167 } from './1795869575167-SharedState.js';
import { MessageSearch1796400000000 } from './1796400000000-MessageSearch.js';
import { ReplyCache1796500000000 } from './1796500000000-ReplyCache.js';
import { SharedSlots1796600000000 } from './1796600000000-SharedSlots.js';
import { ConversationTree1796700000000 } from './1796700000000-ConversationTree.js';
import { AccountSecurity1796800000000 } from './1796800000000-AccountSecurity.js';
import { ToolCalls1796900000000 } from './1796900000000-ToolCalls.js';
import { ToolCallTextOffset1797000000000 } from './1797000000000-ToolCallTextOffset.js';
import { ReadPath1797300000000 } from './1797300000000-ReadPath.js';
import { TurnContext1797600000000 } from './1797600000000-TurnContext.js';
import { SearchMatches1797700000000 } from './1797700000000-SearchMatches.js';
import { MessagePageChain1797800000000 } from './1797800000000-MessagePageChain.js';
import { MessagePath1797900000000 } from './1797900000000-MessagePath.js';
import { HotStatements1798000000000 } from './1798000000000-HotStatements.js';
import { PathRootMetadata1798100000000 } from './1798100000000-PathRootMetadata.js';

export const migrations = [
  Init1795268896372,
  RealtimeEvents1795862869311,
  UserCharacters1795869009113,
  SharedState1795869575167,
  MessageSearch1796400000000,
  ReplyCache1796500000000,
  SharedSlots1796600000000,
  ConversationTree1796700000000,
  AccountSecurity1796800000000,
  ToolCalls1796900000000,
  ToolCallTextOffset1797000000000,
  ReadPath1797300000000,
  TurnContext1797600000000,
  SearchMatches1797700000000,
  MessagePageChain1797800000000,
  MessagePath1797900000000,
  HotStatements1798000000000,
  PathRootMetadata1798100000000,
];
