/**
 * A set of record ids kept in ascending order: one posting list of the record index. The order is that of the ids'
 * UTF-16 code units, which for ids (ASCII, chaincode/src/domain ID_PATTERN) is the order of their UTF-8 bytes, i.e.
 * the order in which the chaincode's composite-key indexes list them.
 *
 * Additions are appended and sorted in on the next read, so replaying a long chain costs one sort per list rather
 * than one insertion per record; a few additions between reads (the usual block) are inserted by binary search.
 */
export class SortedIds {
  #ids: string[] = [];
  /** how many ids at the end of #ids were appended and are not in order yet */
  #unsorted = 0;

  get size(): number {
    return this.#ids.length;
  }

  /** Adds an id the list does not hold (the caller keeps the list a set). */
  add(id: string): void {
    this.#ids.push(id);
    this.#unsorted++;
  }

  /** Removes an id; false when it was not there. */
  delete(id: string): boolean {
    this.#settle();
    const i = this.#lowerBound(id);
    if (this.#ids[i] !== id) return false;
    this.#ids.splice(i, 1);
    return true;
  }

  /** The position of the first id greater than `id` (0 for undefined: from the start). */
  positionAfter(id: string | undefined): number {
    this.#settle();
    if (id === undefined) return 0;
    const i = this.#lowerBound(id);
    return this.#ids[i] === id ? i + 1 : i;
  }

  /** The id at a position (from positionAfter and onwards), undefined past the end. */
  at(position: number): string | undefined {
    this.#settle();
    return this.#ids[position];
  }

  #lowerBound(id: string): number {
    let lo = 0;
    let hi = this.#ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #settle(): void {
    if (this.#unsorted === 0) return;
    if (this.#unsorted > 16) {
      this.#ids.sort();
    } else {
      const tail = this.#ids.splice(this.#ids.length - this.#unsorted);
      for (const id of tail) this.#ids.splice(this.#lowerBound(id), 0, id);
    }
    this.#unsorted = 0;
  }
}
