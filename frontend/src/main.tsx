import { Navigate, Route, Router } from '@solidjs/router';
import { render } from 'solid-js/web';
import { App } from './app';
import { movedFromHash } from './routes';
import { Workspace } from './workspace';
import { SettingsPage } from './settings/settings-page';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

// Links from before the app had real URLs (`#/chats/<id>`) still open their chat.
const moved = movedFromHash(location.hash);
if (moved) history.replaceState(null, '', moved);

render(
  () => (
    <Router root={App}>
      {/* One route for the whole chat area, so its list and realtime channel live across screens. */}
      <Route path={['/', '/new', '/characters', '/search', '/chats/:chatId']} component={Workspace} />
      <Route path="/settings" component={SettingsPage} />
      <Route path="*" component={() => <Navigate href="/" />} />
    </Router>
  ),
  root,
);
