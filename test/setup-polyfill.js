// Promise.withResolvers (Node 22+) for helia/libp2p under Node 20. Jest runs each test file in its own vm context with
// its own Promise, so src/storage/polyfill.ts (loaded in the outer process) does not reach it: jest loads this file
// through `setupFiles`, before any test module.
if (typeof Promise.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers() {
      let resolve, reject;
      const promise = new this((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
