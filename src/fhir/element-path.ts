/**
 * Element paths — a resource type and the JSON property names down to an element, without indices
 * (`Observation.component.code`) — interned in a tree. A walk over a resource needs the path of every property it
 * meets, and the rule tables are keyed by it; building and hashing a fresh string at every node was most of the
 * cost of PIE's own checks. Here each distinct path is built once, and what the rules say about it (`facts`) is
 * worked out once.
 */

export class ElementPaths<F> {
  readonly #roots = new Map<string, ElementPath<F>>();
  #interned = 0;

  /**
   * @param factsOf what the rules say about a path (computed on first use)
   * @param maxInterned bound on the paths kept: property names come from the input, so a stream of made-up names
   *   must not grow the tree for ever; past the bound, new paths still work but are built on every use
   */
  constructor(
    readonly factsOf: (path: string) => F,
    readonly maxInterned = 20_000,
  ) {}

  /** The path of a resource of this type. */
  root(type: string): ElementPath<F> {
    return this.#roots.get(type) ?? this.intern(this.#roots, type, new ElementPath(this, type));
  }

  /** @internal keeps `path` in `map` under `key` while under the bound */
  intern(map: Map<string, ElementPath<F>>, key: string, path: ElementPath<F>): ElementPath<F> {
    if (this.#interned < this.maxInterned) {
      map.set(key, path);
      this.#interned++;
    }
    return path;
  }
}

export class ElementPath<F> {
  readonly #owner: ElementPaths<F>;
  #children: Map<string, ElementPath<F>> | undefined;
  #facts: { readonly value: F } | undefined;

  constructor(
    owner: ElementPaths<F>,
    /** `Observation.component.code` */
    readonly path: string,
  ) {
    this.#owner = owner;
  }

  /** The path of property `key` of this element (array items share their array's path). */
  child(key: string): ElementPath<F> {
    const children = (this.#children ??= new Map());
    return children.get(key) ?? this.#owner.intern(children, key, new ElementPath(this.#owner, `${this.path}.${key}`));
  }

  get facts(): F {
    return (this.#facts ??= { value: this.#owner.factsOf(this.path) }).value;
  }
}
