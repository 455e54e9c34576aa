import sharp from 'sharp';
import type { CharacterDetail, CharacterImport, Chat, PromptManifest, TurnResult } from '@parley/api-types';
import { MyCharactersController } from '../src/characters/my-characters.controller.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { useTestApp } from './support/test-app.js';
import { registerUser } from './support/factories.js';
import {
  base64Json,
  cardInPng,
  compressedITXt,
  plainPng,
  tEXt,
  textChunks,
  v2Card,
  v3Card,
  withChunks,
} from './support/cards.js';

type Card = { spec: string; spec_version: string; data: Record<string, unknown> };

// Reads a response body as bytes (supertest buffers only text types by default).
function binary(res: unknown, done: (error: Error | null, body: Buffer) => void): void {
  const stream = res as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}

describe(MyCharactersController.name, () => {
  const t = useTestApp({ SIGNUP_TOKEN_GRANT: '10000000' });
  let token: string;
  let userId: string;
  const auth = (value = token) => ({ Authorization: `Bearer ${value}` });
  const demo = () => t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);

  beforeAll(async () => {
    const user = await registerUser(t());
    token = user.accessToken;
    userId = user.user.id;
  });

  const ownCount = async (): Promise<number> =>
    Number((await t().dataSource.query('SELECT count(*) AS n FROM characters WHERE owner_id = $1', [userId]))[0].n);

  const importJson = (card: unknown) =>
    t()
      .http.post('/api/v1/me/characters/import')
      .set(auth())
      .send(card as object);
  const importPng = (png: Buffer) =>
    t().http.post('/api/v1/me/characters/import').set(auth()).set('Content-Type', 'image/png').send(png);
  const exportCard = (id: string, format: 'json' | 'png', spec: 'v2' | 'v3') =>
    t()
      .http.get(`/api/v1/me/characters/${id}/export`)
      .query({ format, spec })
      .set(auth())
      .buffer(true)
      .parse(binary)
      .expect(200);
  const startChat = async (characterId: string, extra: Record<string, unknown> = {}): Promise<Chat> =>
    (
      await t()
        .http.post('/api/v1/chats')
        .set(auth())
        .send({ characterId, ...extra })
        .expect(201)
    ).body as Chat;
  const send = async (chatId: string, content: string): Promise<TurnResult> =>
    (await t().http.post(`/api/v1/chats/${chatId}/messages`).set(auth()).send({ content }).expect(201))
      .body as TurnResult;
  const manifest = async (chatId: string, messageId: string): Promise<PromptManifest> =>
    (await t().http.get(`/api/v1/chats/${chatId}/messages/${messageId}/manifest`).set(auth()).expect(200))
      .body as PromptManifest;

  describe('create, edit, delete', () => {
    it('creates a private character, lists it before the built-in ones, edits it and deletes it', async () => {
      const created = await t()
        .http.post('/api/v1/me/characters')
        .set(auth())
        .send({ name: 'Ada', firstMessage: 'Hello {{user}}', tags: ['x'] })
        .expect(201);
      const id = (created.body as CharacterDetail).id;
      const mine = await t().http.get('/api/v1/me/characters').set(auth()).expect(200);
      expect(mine.body.items[0]).toMatchObject({ id, name: 'Ada', builtIn: false });
      expect(mine.body.items.filter((c: { builtIn: boolean }) => c.builtIn).length).toBeGreaterThanOrEqual(4);
      // Never in the public catalogue.
      const publicList = await t().http.get('/api/v1/characters').expect(200);
      expect(publicList.body.items.map((c: { id: string }) => c.id)).not.toContain(id);
      await t().http.get(`/api/v1/characters/${id}`).expect(404);

      const edited = await t()
        .http.put(`/api/v1/me/characters/${id}`)
        .set(auth())
        .send({ name: 'Ada Lovelace', description: 'A mathematician.', alternateGreetings: ['Again, {{user}}?'] })
        .expect(200);
      expect(edited.body).toMatchObject({ name: 'Ada Lovelace', description: 'A mathematician.', tags: [] });
      const read = await t().http.get(`/api/v1/me/characters/${id}`).set(auth()).expect(200);
      expect(read.body).toEqual(edited.body);

      const chat = await startChat(id, { greetingIndex: 1 });
      expect(chat.lastMessage?.content).toBe('Again, User?');
      await t().http.delete(`/api/v1/me/characters/${id}`).set(auth()).expect(204);
      await t().http.delete(`/api/v1/me/characters/${id}`).set(auth()).expect(404);
      const refused = await t().http.post('/api/v1/chats').set(auth()).send({ characterId: id }).expect(404);
      expect(refused.body.code).toBe('character_not_found');
      // The chat started before the deletion keeps working with the frozen character.
      await send(chat.id, 'Are you still there?');
    });

    it('keeps characters private: another user can neither see, edit, export, delete nor chat with them', async () => {
      const id = (
        (await t().http.post('/api/v1/me/characters').set(auth()).send({ name: 'Private' }).expect(201))
          .body as CharacterDetail
      ).id;
      const other = (await registerUser(t())).accessToken;
      const list = await t().http.get('/api/v1/me/characters').set(auth(other)).expect(200);
      expect(list.body.items.map((c: { id: string }) => c.id)).not.toContain(id);
      for (const request of [
        t().http.get(`/api/v1/me/characters/${id}`),
        t().http.put(`/api/v1/me/characters/${id}`).send({ name: 'Stolen' }),
        t().http.get(`/api/v1/me/characters/${id}/export`),
        t().http.delete(`/api/v1/me/characters/${id}`),
        t().http.post('/api/v1/chats').send({ characterId: id }),
      ]) {
        const response = await request.set(auth(other)).expect(404);
        expect(response.body.code).toBe('character_not_found');
      }
      await t().http.get(`/api/v1/me/characters/${id}`).set(auth()).expect(200);
    });

    it('refuses a greeting index the character does not have', async () => {
      const id = (
        (await t().http.post('/api/v1/me/characters').set(auth()).send({ name: 'One' }).expect(201))
          .body as CharacterDetail
      ).id;
      const response = await t()
        .http.post('/api/v1/chats')
        .set(auth())
        .send({ characterId: id, greetingIndex: 1 })
        .expect(400);
      expect(response.body.errors[0].pointer).toBe('/greetingIndex');
    });
  });

  describe('import and export', () => {
    const cases: Array<{ label: string; card: () => Card; format: 'json' | 'png'; spec: 'v2' | 'v3' }> = [
      { label: 'V2 JSON', card: () => v2Card(), format: 'json', spec: 'v2' },
      { label: 'V3 JSON', card: () => v3Card(), format: 'json', spec: 'v3' },
      { label: 'V2 PNG', card: () => v2Card('Cora'), format: 'png', spec: 'v2' },
      { label: 'V3 PNG', card: () => v3Card('Dov'), format: 'png', spec: 'v3' },
    ];

    it.each(cases)('$label: import → chat → export → re-import keeps every field', async ({ card, format, spec }) => {
      const original = card();
      // Fields outside the spec are dropped and reported; extensions are kept.
      const sent = { ...original, name: 'top-level copy', data: { ...original.data, mystery_field: 1 } };
      const keyword = spec === 'v3' ? 'ccv3' : 'chara';
      const first =
        format === 'json'
          ? await importJson(sent).expect(201)
          : await importPng(withChunks(await plainPng(), [tEXt(keyword, base64Json(sent))])).expect(201);
      const imported = first.body as CharacterImport;
      expect(imported.spec).toBe(original.spec);
      expect(imported.droppedFields.sort()).toEqual(['/data/mystery_field', '/name']);
      expect(imported.character.name).toBe(original.data.name);
      if (format === 'png') expect(imported.character.avatarUrl).toMatch(/^\/api\/v1\/avatars\/[0-9a-f]{64}$/);

      const chat = await startChat(imported.character.id, { greetingIndex: 2 });
      expect(chat.lastMessage?.content).toBe('The lamps flicker as User enters.');
      await send(chat.id, 'Hello there');

      const exportedOnce = await exportCard(imported.character.id, format, spec);
      const cardOf = (body: Buffer): Card =>
        format === 'json' ? (JSON.parse(body.toString('utf8')) as Card) : (cardInPng(body, keyword) as Card);
      expect(cardOf(exportedOnce.body as Buffer)).toEqual(original);
      if (format === 'png') {
        // Both chunks, so readers of either spec find the card.
        const texts = textChunks(exportedOnce.body as Buffer);
        expect([...texts.keys()].sort()).toEqual(['ccv3', 'chara']);
      }

      const again =
        format === 'json'
          ? await importJson(JSON.parse((exportedOnce.body as Buffer).toString('utf8'))).expect(201)
          : await importPng(exportedOnce.body as Buffer).expect(201);
      expect((again.body as CharacterImport).droppedFields).toEqual([]);
      const exportedTwice = await exportCard((again.body as CharacterImport).character.id, format, spec);
      expect(cardOf(exportedTwice.body as Buffer)).toEqual(original);
    });
  });

  describe('bad input', () => {
    const png = () => plainPng();
    const expectRefused = async (
      response: { status: number; body: { code: string } },
      status: number,
      code: string,
    ) => {
      expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
    };

    it('refuses every bad card and stores nothing', async () => {
      const before = await ownCount();
      const bomb = Buffer.alloc(64 * 1024 * 1024, 0x41);
      const attempts: Array<[string, () => Promise<{ status: number; body: { code: string } }>, number, string]> = [
        ['a PNG without a card chunk', async () => importPng(await png()), 400, 'card_unreadable'],
        [
          'a chunk that is not base64',
          async () => importPng(withChunks(await png(), [tEXt('chara', '%%% not base64 %%%')])),
          400,
          'card_unreadable',
        ],
        [
          'a chunk that is not JSON',
          async () => importPng(withChunks(await png(), [tEXt('chara', Buffer.from('{not json').toString('base64'))])),
          400,
          'card_unreadable',
        ],
        [
          'an unknown spec (JSON)',
          async () => importJson({ spec: 'chara_card_v9', data: { name: 'x' } }),
          400,
          'validation_failed',
        ],
        ['a V1 card', async () => importJson({ name: 'x', description: 'y' }), 400, 'validation_failed'],
        [
          'a PNG card whose image is over 4096 pixels a side',
          async () => importPng(withChunks(await plainPng(5000, 8), [tEXt('chara', base64Json(v2Card()))])),
          400,
          'image_too_large',
        ],
        [
          'a JSON file that is not JSON',
          async () =>
            t()
              .http.post('/api/v1/me/characters/import')
              .set(auth())
              .set('Content-Type', 'application/json')
              .send('{"spec": "chara_card_v2", '),
          400,
          'malformed_json',
        ],
        [
          'a V1 card in a PNG',
          async () => importPng(withChunks(await png(), [tEXt('chara', base64Json({ name: 'x', description: 'y' }))])),
          400,
          'card_spec_unsupported',
        ],
        [
          'an unknown spec (PNG)',
          async () => importPng(withChunks(await png(), [tEXt('chara', base64Json({ spec: 'other', data: {} }))])),
          400,
          'card_spec_unsupported',
        ],
        [
          'a file that says PNG but is HTML',
          async () => importPng(Buffer.from('<html><script>alert(1)</script></html>')),
          400,
          'image_unsupported',
        ],
        [
          'a compressed-bomb chunk',
          async () => importPng(withChunks(await png(), [compressedITXt('chara', bomb)])),
          400,
          'card_unreadable',
        ],
        [
          'a field over its limit',
          async () => importJson({ ...v2Card(), data: { ...v2Card().data, name: 'n'.repeat(81) } }),
          400,
          'validation_failed',
        ],
        [
          'a NUL byte inside a PNG card',
          async () =>
            importPng(
              withChunks(await png(), [
                tEXt('chara', base64Json({ ...v2Card(), data: { ...v2Card().data, scenario: 'a\u0000b' } })),
              ]),
            ),
          400,
          'validation_failed',
        ],
        [
          'several texts over their limits',
          async () =>
            importJson({
              ...v2Card(),
              data: {
                ...v2Card().data,
                description: 'd'.repeat(8000),
                mes_example: 'e'.repeat(8000),
                system_prompt: 's'.repeat(8000),
                personality: 'p'.repeat(4000),
                scenario: 's'.repeat(4000),
                post_history_instructions: 'q'.repeat(1000),
              },
            }),
          400,
          'validation_failed',
        ],
        [
          'a card that breaks the content policy',
          async () => importJson({ ...v2Card(), data: { ...v2Card().data, scenario: 'zorblax-canary' } }),
          422,
          'content_blocked',
        ],
      ];
      for (const [label, attempt, status, code] of attempts) {
        const response = await attempt();
        expect({ label, status: response.status, code: response.body.code }).toEqual({ label, status, code });
      }
      expect(await ownCount()).toBe(before);
    });

    it('names the field over its limit', async () => {
      const response = await importJson({ ...v2Card(), data: { ...v2Card().data, name: 'n'.repeat(81) } }).expect(400);
      expect(response.body.errors[0].pointer).toBe('/data/name');
      const created = await t()
        .http.post('/api/v1/me/characters')
        .set(auth())
        .send({ name: 'n'.repeat(81) })
        .expect(400);
      expect(created.body.errors[0].pointer).toBe('/name');
      const nul = await t().http.post('/api/v1/me/characters').set(auth()).send({ name: 'a\u0000b' }).expect(400);
      expect(nul.body.errors[0].pointer).toBe('/name');
      const blocked = await t()
        .http.post('/api/v1/me/characters')
        .set(auth())
        .send({ name: 'Fine', description: 'Says zorblax-canary a lot' })
        .expect(422);
      expect(blocked.body.errors[0].pointer).toBe('/description');
    });

    it('answers a 50 MB upload with 413', async () => {
      const response = await t()
        .http.post('/api/v1/me/characters/import')
        .set(auth())
        .set('Content-Type', 'image/png')
        .send(Buffer.alloc(50 * 1024 * 1024, 1))
        .catch((error: { response?: { status: number; body: { code: string } } }) => error.response!);
      await expectRefused(response, 413, 'payload_too_large');
    });

    it('refuses SVG, HTML and oversized avatars, keeping the previous one', async () => {
      const id = (
        (await t().http.post('/api/v1/me/characters').set(auth()).send({ name: 'Pic' }).expect(201))
          .body as CharacterDetail
      ).id;
      const put = (body: Buffer, type: string) =>
        t().http.put(`/api/v1/me/characters/${id}/avatar`).set(auth()).set('Content-Type', type).send(body);
      const svg = Buffer.from(
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>',
      );
      await expectRefused(await put(svg, 'image/svg+xml'), 415, 'unsupported_media_type');
      await expectRefused(await put(svg, 'image/png'), 400, 'image_unsupported');
      await expectRefused(await put(Buffer.from('<!doctype html><p>hi'), 'image/jpeg'), 400, 'image_unsupported');
      await expectRefused(await put(await plainPng(5000, 10), 'image/png'), 400, 'image_too_large');
      const read = await t().http.get(`/api/v1/me/characters/${id}`).set(auth()).expect(200);
      expect(read.body.avatarUrl).toBeNull();
    });
  });

  describe('avatars', () => {
    it('re-encodes an upload to a square WebP without its metadata, served immutable by hash', async () => {
      const id = (
        (await t().http.post('/api/v1/me/characters').set(auth()).send({ name: 'Face' }).expect(201))
          .body as CharacterDetail
      ).id;
      const secret = 'hidden-polyglot-payload';
      const upload = withChunks(await plainPng(300, 120), [tEXt('Comment', secret)]);
      const saved = await t()
        .http.put(`/api/v1/me/characters/${id}/avatar`)
        .set(auth())
        .set('Content-Type', 'image/png')
        .send(upload)
        .expect(200);
      const url = saved.body.avatarUrl as string;
      const image = await t().http.get(url).buffer(true).parse(binary).expect(200);
      expect(image.headers['content-type']).toBe('image/webp');
      expect(image.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      const bytes = image.body as Buffer;
      expect(bytes.includes(Buffer.from(secret))).toBe(false);
      const meta = await sharp(bytes).metadata();
      expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({
        format: 'webp',
        width: 512,
        height: 512,
      });
      const list = await t().http.get('/api/v1/me/characters').set(auth()).expect(200);
      expect(list.body.items.find((c: { id: string }) => c.id === id).avatarUrl).toBe(url);
      await t()
        .http.get(`/api/v1/avatars/${'0'.repeat(64)}`)
        .expect(404);
    });
  });

  describe('personas and lorebooks', () => {
    it('fills {{user}} with the persona and sends the persona to the model', async () => {
      await t()
        .http.post('/api/v1/me/personas')
        .set(auth())
        .send({ name: 'Sam', description: 'A cartographer who maps flooded streets.' })
        .expect(201);
      const id = (
        (
          await t()
            .http.post('/api/v1/me/characters')
            .set(auth())
            .send({
              name: 'Ada',
              firstMessage: 'Hello {{user}}, I am {{char}}.',
              scenario: '{{user}} visits {{char}}.',
            })
            .expect(201)
        ).body as CharacterDetail
      ).id;
      const chat = await startChat(id);
      expect(chat.personaId).not.toBeNull();
      expect(chat.lastMessage?.content).toBe('Hello Sam, I am Ada.');
      demo().reset();
      await send(chat.id, 'Hi');
      const system = demo().requests().at(-1)?.systemInstruction ?? '';
      expect(system).toContain('Scenario: Sam visits Ada.');
      expect(system).toContain('A cartographer who maps flooded streets.');
      expect(system).not.toContain('{{user}}');
    });

    it('keeps exactly one default persona when several are made default at once', async () => {
      const user = (await registerUser(t())).accessToken;
      const responses = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          t()
            .http.post('/api/v1/me/personas')
            .set(auth(user))
            .send({ name: `P${i}`, isDefault: true }),
        ),
      );
      expect(responses.map((r) => r.status)).toEqual(Array(8).fill(201));
      const list = await t().http.get('/api/v1/me/personas').set(auth(user)).expect(200);
      expect(list.body.items.filter((p: { isDefault: boolean }) => p.isDefault)).toHaveLength(1);
    });

    it('lists the lorebook entries that fired, with their keyword, and puts them in the prompt', async () => {
      const id = (
        (
          await t()
            .http.post('/api/v1/me/characters')
            .set(auth())
            .send({
              name: 'Lore keeper',
              lorebook: {
                tokenBudget: 30,
                entries: [
                  {
                    name: 'dragon',
                    keys: ['Dragon'],
                    content: 'DRAGON-LORE: the skull is in the vault.',
                    insertionOrder: 20,
                  },
                  {
                    name: 'castle',
                    keys: ['castle'],
                    secondaryKeys: ['king'],
                    content: 'CASTLE-LORE',
                    insertionOrder: 1,
                  },
                  { name: 'always', keys: [], constant: true, content: 'CONSTANT-LORE', insertionOrder: 5 },
                  { name: 'zebra', keys: ['zebra'], content: 'ZEBRA-LORE' },
                  { name: 'big', keys: ['dragon'], content: `BIG-LORE ${'x'.repeat(400)}`, insertionOrder: 30 },
                ],
              },
            })
            .expect(201)
        ).body as CharacterDetail
      ).id;
      const chat = await startChat(id);
      await t()
        .http.put(`/api/v1/chats/${chat.id}/lorebook`)
        .set(auth())
        .send({ entries: [{ keys: ['moon'], content: 'MOON-LORE' }] })
        .expect(200);
      const stored = await t().http.get(`/api/v1/chats/${chat.id}/lorebook`).set(auth()).expect(200);
      expect(stored.body.entries).toEqual([
        expect.objectContaining({ keys: ['moon'], content: 'MOON-LORE', insertionOrder: 100, enabled: true }),
      ]);
      const other = (await registerUser(t())).accessToken;
      await t().http.get(`/api/v1/chats/${chat.id}/lorebook`).set(auth(other)).expect(404);
      const blocked = await t()
        .http.put(`/api/v1/chats/${chat.id}/lorebook`)
        .set(auth())
        .send({
          entries: [
            { keys: ['moon'], content: 'ok' },
            { keys: ['x'], content: 'zorblax-canary' },
          ],
        })
        .expect(422);
      expect(blocked.body.errors[0].pointer).toBe('/entries/1/content');
      demo().reset();
      const turn = await send(chat.id, 'Tell me of the dragon, the castle and the moon');
      const fired = (await manifest(chat.id, turn.assistantMessage.id)).lorebookEntries;
      expect(fired).toEqual([
        { source: 'character', entry: 2, name: 'always', keyword: null },
        { source: 'character', entry: 0, name: 'dragon', keyword: 'Dragon' },
        { source: 'chat', entry: 0, name: null, keyword: 'moon' },
      ]);
      const system = demo().requests().at(-1)?.systemInstruction ?? '';
      expect(system).toContain('DRAGON-LORE');
      expect(system).toContain('MOON-LORE');
      expect(system).not.toContain('CASTLE-LORE');
      expect(system).not.toContain('BIG-LORE');
    });
  });
});
