/**
 * Promise.withResolvers exists only from Node 22; helia and libp2p (it-queue, p-retry, @libp2p/utils…) call it.
 * This side-effect module must run before any of their module bodies: node.ts imports it first. Jest runs each test
 * file in its own vm context with its own Promise, so jest loads test/setup-polyfill.js through `setupFiles` instead.
 */
interface Resolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const P = Promise as unknown as { withResolvers?: unknown };
if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>(this: PromiseConstructor): Resolvers<T> {
      let resolve!: Resolvers<T>['resolve'];
      let reject!: Resolvers<T>['reject'];
      const promise = new this<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
