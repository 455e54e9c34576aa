import type { MigrationInterface, QueryRunner } from 'typeorm';
import { MESSAGE_PATH } from './1797900000000-MessagePath.js';

// The prompt's path carries each message's metadata only for the path's root (bench/REPORT.md,
// "Session 10"). The prompt reads one thing of it, the greeting's flag, and the greeting is a
// chat's root (it is written when the chat is made, and a fork copies it as the new chat's root).
// A reply's metadata holds its prompt manifest, about 3 kB compressed: on a path of 80 messages
// that was some 120 kB a turn to decompress, print as JSON and parse again in the app, for
// nothing. Its columns stay as they were, so an instance of the previous build reads it the same.
const EVERY_ROW = 'm.status, m.metadata';
const ROOT_ONLY = 'm.status, CASE WHEN m.parent_id IS NULL THEN m.metadata END';
if (MESSAGE_PATH.split(EVERY_ROW).length !== 3) {
  throw new Error('message_path (migration MessagePath) no longer selects metadata in its two reads');
}
const MESSAGE_PATH_ROOT_METADATA = MESSAGE_PATH.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION')
  .split(EVERY_ROW)
  .join(ROOT_ONLY);

export class PathRootMetadata1798100000000 implements MigrationInterface {
  name = 'PathRootMetadata1798100000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(MESSAGE_PATH_ROOT_METADATA);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(MESSAGE_PATH.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'));
  }
}
