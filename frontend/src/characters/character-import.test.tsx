import { fireEvent, render, screen } from '@solidjs/testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError } from '@parley/client';
import type { CharacterImport as ImportResult } from '@parley/api-types';
import { CharacterImport } from './character-import';
import { importCard } from './characters.api';
import { problemFixture } from '../test-fixtures';

vi.mock('./characters.api', () => ({ importCard: vi.fn() }));

const imported: ImportResult = {
  character: {
    id: 'u-1',
    name: 'Keeper',
    description: '',
    personality: '',
    scenario: '',
    firstMessage: 'Hi',
    alternateGreetings: [],
    exampleDialogue: '',
    systemPrompt: '',
    postHistoryInstructions: '',
    creatorNotes: '',
    tags: [],
    tools: [],
    avatarUrl: null,
    createdAt: '2026-11-28T12:00:00.000Z',
    updatedAt: '2026-11-28T12:00:00.000Z',
  },
  spec: 'chara_card_v2',
  droppedFields: ['/data/mystery'],
};

function drop(file: File) {
  const zone = screen.getByTestId('import-zone');
  fireEvent.drop(zone, { dataTransfer: { files: [file] } });
}

describe('CharacterImport', () => {
  afterEach(() => vi.mocked(importCard).mockReset());

  it('imports a dropped file and says what was not kept', async () => {
    vi.mocked(importCard).mockResolvedValue(imported);
    const onImported = vi.fn();
    render(() => <CharacterImport onImported={onImported} />);
    const file = new File(['{}'], 'card.json', { type: 'application/json' });
    drop(file);
    expect((await screen.findByRole('status')).textContent).toBe(
      'Imported Keeper. Not kept (not part of the card format): /data/mystery.',
    );
    expect(importCard).toHaveBeenCalledWith(file);
    expect(onImported).toHaveBeenCalledWith(imported);
  });

  it('shows the refusal of a bad card', async () => {
    vi.mocked(importCard).mockRejectedValue(
      new ApiError(
        400,
        problemFixture({
          status: 400,
          code: 'card_unreadable',
          message: 'No character card could be read from this file.',
        }),
        null,
      ),
    );
    render(() => <CharacterImport onImported={() => {}} />);
    drop(new File(['x'], 'card.png', { type: 'image/png' }));
    expect((await screen.findByText('No character card could be read from this file.')).textContent).toBe(
      'No character card could be read from this file.',
    );
  });
});
