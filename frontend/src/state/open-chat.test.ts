import { createRoot } from 'solid-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createOpenChat } from './open-chat';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

let dispose: (() => void) | undefined;
const openChat = () =>
  createRoot((d) => {
    dispose = d;
    return createOpenChat();
  });

describe('createOpenChat', () => {
  afterEach(() => {
    dispose?.();
    history.replaceState(null, '', '/');
  });

  it('reopens the chat named in the address, and ignores anything else there', () => {
    history.replaceState(null, '', `/#/chats/${A}`);
    expect(openChat()[0]()).toBe(A);
    dispose?.();
    history.replaceState(null, '', '/#/chats/not-a-chat');
    expect(openChat()[0]()).toBeNull();
  });

  it('puts the open chat in the address, and takes it out when the list is shown', () => {
    const [openChatId, open] = openChat();
    open(A);
    expect(openChatId()).toBe(A);
    expect(location.hash).toBe(`#/chats/${A}`);
    open(null);
    expect(openChatId()).toBeNull();
    expect(location.hash).toBe('');
  });

  it('follows Back and Forward', () => {
    const [openChatId, open] = openChat();
    open(A);
    open(B);
    history.replaceState(null, '', `/#/chats/${A}`);
    window.dispatchEvent(new PopStateEvent('popstate'));
    expect(openChatId()).toBe(A);
  });
});
