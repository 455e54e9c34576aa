import { createSignal } from 'solid-js';

// What the browser tab names besides the app: the open chat's title, or a screen's name.
const [pageTitle, setPageTitle] = createSignal<string | null>(null);

export { pageTitle, setPageTitle };
