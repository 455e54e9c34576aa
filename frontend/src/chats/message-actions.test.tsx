import { fireEvent, render, screen, within } from '@solidjs/testing-library';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { messageFixture } from '../test-fixtures';
import type { ViewMessage } from '../turns/conversation.store';
import { abilitiesOf, AlternativeSwitcher, MessageActions, MessageEditor } from './message-actions';

const greeting = messageFixture(1, { role: 'assistant', parentId: null, content: 'Welcome aboard.' });
const question = messageFixture(2, { role: 'user', content: 'Where to?' });
const answer = messageFixture(3, { role: 'assistant', content: 'North.', replyToId: question.id });

const handlers = () => ({
  regenerate: vi.fn(),
  edit: vi.fn(),
  continue: vi.fn(),
  delete: vi.fn(),
  fork: vi.fn(),
});

function renderActions(message: ViewMessage, options: { last?: boolean; disabled?: boolean } = {}) {
  const on = handlers();
  render(() => (
    <MessageActions
      message={message}
      abilities={abilitiesOf(message, options.last ?? false)}
      disabled={options.disabled ?? false}
      on={on}
    />
  ));
  const group = screen.getByRole('group', { name: 'Message actions' });
  const names = within(group)
    .queryAllByRole('button')
    .map((button) => button.textContent);
  return { on, group, names };
}

describe('MessageActions', () => {
  afterEach(() => vi.restoreAllMocks());

  it('offers the last reply copy, regenerate, fork and delete, and each button does its action', () => {
    const { on, group, names } = renderActions(answer, { last: true });
    expect(names).toEqual(['Copy', 'Regenerate', 'Fork', 'Delete']);

    fireEvent.click(within(group).getByRole('button', { name: 'Regenerate' }));
    fireEvent.click(within(group).getByRole('button', { name: 'Fork' }));
    expect(on.regenerate).toHaveBeenCalledTimes(1);
    expect(on.fork).toHaveBeenCalledTimes(1);
    expect(on.edit).not.toHaveBeenCalled();
  });

  it('offers no Regenerate on a reply that is not the end of the path, and Edit on a user message', () => {
    expect(renderActions(answer, { last: false }).names).toEqual(['Copy', 'Fork', 'Delete']);
    document.body.innerHTML = '';
    const { on, group, names } = renderActions(question, { last: false });
    expect(names).toEqual(['Copy', 'Edit', 'Fork', 'Delete']);
    fireEvent.click(within(group).getByRole('button', { name: 'Edit' }));
    expect(on.edit).toHaveBeenCalledTimes(1);
  });

  it('lets the greeting be copied and forked only', () => {
    expect(renderActions(greeting, { last: true }).names).toEqual(['Copy', 'Fork']);
  });

  it('offers Continue on a reply cut off at the length limit and on a stopped reply with text, not on an empty stop', () => {
    expect(renderActions({ ...answer, finishReason: 'max_tokens' }, { last: true }).names).toEqual([
      'Copy',
      'Continue',
      'Regenerate',
      'Fork',
      'Delete',
    ]);
    document.body.innerHTML = '';
    const stopped = { ...answer, status: 'cancelled', finishReason: 'stopped' } as const;
    expect(renderActions(stopped, { last: true }).names).toContain('Continue');
    document.body.innerHTML = '';
    const empty = { ...stopped, content: '' };
    // Nothing to continue or copy; it can still be generated again.
    expect(renderActions(empty, { last: true }).names).toEqual(['Regenerate', 'Delete']);
  });

  it('offers a failed last reply Regenerate and Delete, but no Continue or Fork', () => {
    const failed = { ...answer, status: 'failed', content: '', finishReason: 'error' } as const;
    expect(renderActions(failed, { last: true }).names).toEqual(['Regenerate', 'Delete']);
  });

  it('offers nothing but Copy on a reply being written, or on a message not yet stored', () => {
    expect(renderActions({ ...answer, status: 'streaming', finishReason: null }, { last: true }).names).toEqual([
      'Copy',
    ]);
    document.body.innerHTML = '';
    expect(renderActions({ ...question, local: true, status: 'pending' }, { last: true }).names).toEqual(['Copy']);
  });

  it('disables the actions that change the chat while it is busy, but not Copy', () => {
    const { group } = renderActions(answer, { last: true, disabled: true });
    const disabled = within(group)
      .getAllByRole<HTMLButtonElement>('button')
      .filter((button) => button.disabled)
      .map((button) => button.textContent);
    expect(disabled).toEqual(['Regenerate', 'Fork', 'Delete']);
  });

  it('deletes only after the confirmation is accepted', () => {
    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(false).mockReturnValueOnce(true);
    const { on, group } = renderActions(answer, { last: true });
    const remove = within(group).getByRole('button', { name: 'Delete' });

    fireEvent.click(remove);
    expect(on.delete).not.toHaveBeenCalled();
    fireEvent.click(remove);
    expect(on.delete).toHaveBeenCalledTimes(1);
    expect(confirm).toHaveBeenCalledTimes(2);
  });

  it('copies the message text and says so', async () => {
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const { group } = renderActions(answer, { last: true });

    fireEvent.click(within(group).getByRole('button', { name: 'Copy' }));

    expect(writeText).toHaveBeenCalledWith('North.');
    expect(await within(group).findByRole('button', { name: 'Copied' })).toBeTruthy();
  });
});

describe('AlternativeSwitcher', () => {
  function renderSwitcher(index: number, count: number, disabled = false) {
    const onStep = vi.fn();
    render(() => <AlternativeSwitcher index={index} count={count} disabled={disabled} onStep={onStep} />);
    return {
      onStep,
      previous: screen.getByRole<HTMLButtonElement>('button', { name: 'Previous version' }),
      next: screen.getByRole<HTMLButtonElement>('button', { name: 'Next version' }),
    };
  }

  it('shows n/m, named for screen readers, and steps both ways from the middle', () => {
    const { onStep, previous, next } = renderSwitcher(2, 3);
    expect(screen.getByRole('group', { name: 'Version 2 of 3' }).textContent).toContain('2/3');

    fireEvent.click(previous);
    fireEvent.click(next);
    expect(onStep.mock.calls).toEqual([[-1], [1]]);
  });

  it('has no previous before the first version and no next after the last', () => {
    const first = renderSwitcher(1, 3);
    expect(first.previous.disabled).toBe(true);
    expect(first.next.disabled).toBe(false);
    document.body.innerHTML = '';
    const last = renderSwitcher(3, 3);
    expect(last.previous.disabled).toBe(false);
    expect(last.next.disabled).toBe(true);
  });

  it('waits while the chat is busy', () => {
    const { previous, next } = renderSwitcher(2, 3, true);
    expect(previous.disabled).toBe(true);
    expect(next.disabled).toBe(true);
  });
});

describe('MessageEditor', () => {
  function renderEditor() {
    const onSave = vi.fn(() => true);
    const onCancel = vi.fn();
    // The chat around it, whose Escape stops a reply.
    const outer = vi.fn();
    render(() => (
      <div onKeyDown={outer}>
        <MessageEditor content="Where to?" onSave={onSave} onCancel={onCancel} />
      </div>
    ));
    return { onSave, onCancel, outer, input: screen.getByLabelText<HTMLTextAreaElement>('Edit your message') };
  }

  it('opens with the words as they were, focused', () => {
    const { input } = renderEditor();
    expect(input.value).toBe('Where to?');
    expect(document.activeElement).toBe(input);
  });

  it('cancels on Escape without saving, and keeps the Escape from the chat (which would stop a reply)', () => {
    const { onSave, onCancel, outer, input } = renderEditor();
    fireEvent.input(input, { target: { value: 'Somewhere else' } });

    fireEvent.keyDown(input, { key: 'Escape' });

    expect(onCancel).toHaveBeenCalledTimes(1);
    expect(onSave).not.toHaveBeenCalled();
    expect(outer).not.toHaveBeenCalled();
    fireEvent.keyDown(input, { key: 'a' });
    expect(outer).toHaveBeenCalledTimes(1);
  });

  it('saves the edited words with the button or Ctrl+Enter; an empty text cannot be saved', () => {
    const { onSave, input } = renderEditor();
    fireEvent.input(input, { target: { value: 'South, then.' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save and send' }));
    fireEvent.keyDown(input, { key: 'Enter', ctrlKey: true });
    expect(onSave.mock.calls).toEqual([['South, then.'], ['South, then.']]);

    fireEvent.input(input, { target: { value: '   ' } });
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Save and send' }).disabled).toBe(true);
  });

  it('cancels with the Cancel button', () => {
    const { onCancel } = renderEditor();
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(onCancel).toHaveBeenCalledTimes(1);
  });
});
