import { CharactersController } from '../src/characters/characters.controller.js';
import { CharactersService } from '../src/characters/characters.service.js';
import { createChat, registerUser } from './support/factories.js';
import { readCharacterCards } from '../src/characters/card-files.js';
import { repoPaths } from '../src/config/repo-paths.js';
import { useTestApp } from './support/test-app.js';

describe(CharactersController.name, () => {
  const t = useTestApp();
  const personas = readCharacterCards(repoPaths.prompts);

  it('lists every persona file, in English by default', async () => {
    const response = await t().http.get('/api/v1/characters').expect(200);
    expect(personas.length).toBeGreaterThanOrEqual(3);
    expect(response.body.items.map((c: { id: string }) => c.id).sort()).toEqual(personas.map((p) => p.id).sort());
    const first = personas.find((p) => p.id === response.body.items[0].id)!;
    expect(response.body.items[0]).toMatchObject({ name: first.translations.en.name, locale: 'en' });
  });

  it('answers in Chinese for Accept-Language: zh-CN', async () => {
    const persona = personas[0]!;
    const response = await t()
      .http.get(`/api/v1/characters/${persona.id}`)
      .set('Accept-Language', 'zh-CN,zh;q=0.9,en;q=0.5')
      .expect(200);
    expect(response.body).toEqual({
      id: persona.id,
      name: persona.translations.zh.name,
      description: persona.translations.zh.description,
      greeting: persona.translations.zh.greeting,
      locale: 'zh',
      alternateGreetings: [],
      avatarUrl: null,
      builtIn: true,
      // Every built-in character may use the built-in tools (its card's Parley extension).
      tools: ['roll_dice', 'current_time', 'remember', 'recall'],
    });
  });

  it('never exposes the persona prompt', async () => {
    const response = await t().http.get('/api/v1/characters').expect(200);
    expect(JSON.stringify(response.body)).not.toContain(personas[0]!.translations.en.persona.slice(0, 40));
  });

  it('answers 404 character_not_found for an unknown id', async () => {
    const response = await t().http.get('/api/v1/characters/no-such-character').expect(404);
    expect(response.body.code).toBe('character_not_found');
  });

  it('answers 400 for an id that cannot be a character id', async () => {
    const response = await t().http.get('/api/v1/characters/NOT_A_SLUG').expect(400);
    expect(response.body.code).toBe('validation_failed');
  });

  it('retires a character whose file is gone: hidden and unusable for new chats, kept for existing ones', async () => {
    const persona = personas[0]!;
    await t().dataSource.query(
      `INSERT INTO characters (id, version, sort_order, translations) VALUES ('retired-one', 1, 99, $1)`,
      [JSON.stringify(persona.translations)],
    );
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken, 'retired-one');
    await t().app.get(CharactersService).onApplicationBootstrap();

    const list = await t().http.get('/api/v1/characters').expect(200);
    expect(list.body.items.map((c: { id: string }) => c.id)).not.toContain('retired-one');
    await t().http.get('/api/v1/characters/retired-one').expect(404);
    const refused = await t()
      .http.post('/api/v1/chats')
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ characterId: 'retired-one' })
      .expect(404);
    expect(refused.body.code).toBe('character_not_found');
    await t().http.get(`/api/v1/chats/${chat.id}/messages`).set('Authorization', `Bearer ${accessToken}`).expect(200);
  });
});
