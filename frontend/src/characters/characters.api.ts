import { ApiError } from '@parley/client';
import type { CharacterInput, PersonaInput } from '@parley/api-types';
import { api } from '../api/client';

/** The characters the signed-in user can chat with: their own first, then the built-in ones. */
export async function fetchCharacters() {
  const { data, error, response } = await api.GET('/api/v1/me/characters');
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data.items;
}

/** The tools a character may be given (built-in and the operator's MCP tools). */
export async function fetchTools() {
  const { data, error, response } = await api.GET('/api/v1/tools');
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data.items;
}

export async function fetchMyCharacter(characterId: string) {
  const { data, error, response } = await api.GET('/api/v1/me/characters/{characterId}', {
    params: { path: { characterId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function createCharacter(body: CharacterInput) {
  const { data, error, response } = await api.POST('/api/v1/me/characters', { body });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function updateCharacter(characterId: string, body: CharacterInput) {
  const { data, error, response } = await api.PUT('/api/v1/me/characters/{characterId}', {
    params: { path: { characterId } },
    body,
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function deleteCharacter(characterId: string): Promise<void> {
  const { error, response } = await api.DELETE('/api/v1/me/characters/{characterId}', {
    params: { path: { characterId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
}

/** Imports a card file: a PNG is sent as its bytes, anything else is read as JSON. */
export async function importCard(file: File) {
  const png = file.type === 'image/png' || /\.png$/i.test(file.name);
  const { data, error, response } = png
    ? await api.POST('/api/v1/me/characters/import', {
        body: file as never,
        bodySerializer: (body: unknown) => body as Blob,
        headers: { 'Content-Type': 'image/png' },
      })
    : // The text as it is: the server says why a file that is not JSON cannot be read.
      await api.POST('/api/v1/me/characters/import', {
        body: (await file.text()) as never,
        bodySerializer: (body: unknown) => body as string,
        headers: { 'Content-Type': 'application/json' },
      });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function uploadAvatar(characterId: string, file: File) {
  const { data, error, response } = await api.PUT('/api/v1/me/characters/{characterId}/avatar', {
    params: { path: { characterId } },
    body: file as never,
    bodySerializer: (body: unknown) => body as Blob,
    headers: { 'Content-Type': file.type || 'application/octet-stream' },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

/** Downloads the character as a card file (PNG or JSON) through the browser. */
export async function exportCard(characterId: string, format: 'png' | 'json'): Promise<void> {
  const { data, error, response } = await api.GET('/api/v1/me/characters/{characterId}/export', {
    params: { path: { characterId }, query: { format } },
    parseAs: 'blob',
  });
  if (error !== undefined || !response.ok || !data) throw ApiError.fromResponse(response, error);
  const name = /filename="?([^";]+)"?/.exec(response.headers.get('Content-Disposition') ?? '')?.[1];
  const url = URL.createObjectURL(data as Blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name ?? `character.${format}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function fetchPersonas() {
  const { data, error, response } = await api.GET('/api/v1/me/personas');
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data.items;
}

export async function savePersona(personaId: string | null, body: PersonaInput) {
  const { data, error, response } = personaId
    ? await api.PUT('/api/v1/me/personas/{personaId}', { params: { path: { personaId } }, body })
    : await api.POST('/api/v1/me/personas', { body });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function deletePersona(personaId: string): Promise<void> {
  const { error, response } = await api.DELETE('/api/v1/me/personas/{personaId}', {
    params: { path: { personaId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
}
