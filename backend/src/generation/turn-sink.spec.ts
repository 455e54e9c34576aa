import { Connection } from '../../test/support/turn-fixtures.js';
import { ResponseOnlySink } from './turn-sink.js';

describe(ResponseOnlySink.name, () => {
  it('does not ask the provider to stream (the JSON form waits for the whole reply)', () => {
    expect(new ResponseOnlySink(new Connection()).streaming).toBe(false);
  });

  describe('onDisconnect', () => {
    it('runs once when the client goes away before the response was delivered', () => {
      const connection = new Connection();
      const gone: number[] = [];
      new ResponseOnlySink(connection).onDisconnect(() => gone.push(1));

      connection.emit('close');
      connection.emit('close');

      expect(gone).toEqual([1]);
    });

    it('does not run when the connection closes after the response was delivered', () => {
      const connection = new Connection();
      const gone: number[] = [];
      new ResponseOnlySink(connection).onDisconnect(() => gone.push(1));

      connection.writableFinished = true;
      connection.emit('close');

      expect(gone).toEqual([]);
    });
  });
});
