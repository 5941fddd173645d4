// proxy.js (test helper): a TCP proxy between the client and the server, to break connections
// the way a network does: `holdReplies()` drops everything the server sends (so a frame reaches
// the server but its answer never comes back), `cut()` destroys every connection at once.

import net from 'node:net';

export class Proxy {
  #server;
  #pairs = new Set();
  #holding = false;
  /** Connections accepted so far. */
  connections = 0;

  static async start(targetPort) {
    const proxy = new Proxy();
    await proxy.#listen(targetPort);
    return proxy;
  }

  #listen(targetPort) {
    this.#server = net.createServer((client) => {
      this.connections += 1;
      const upstream = net.connect(targetPort, '127.0.0.1');
      const pair = { client, upstream };
      this.#pairs.add(pair);
      client.on('data', (data) => upstream.write(data));
      upstream.on('data', (data) => {
        if (!this.#holding) client.write(data);
      });
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.#pairs.delete(pair);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  get port() {
    return this.#server.address().port;
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** From now on the server's bytes are dropped (true) or forwarded again (false). */
  holdReplies(hold = true) {
    this.#holding = hold;
  }

  /** Destroys every open connection, both sides. */
  cut() {
    for (const { client, upstream } of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  close() {
    this.cut();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
