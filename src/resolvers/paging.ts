/** Reading every page of a ledger listing. */
import type { Page } from '../chain/pie-ledger.js';

/** Follows bookmarks until the listing ends (or `limit` items are read). */
export async function allPages<T>(fetch: (bookmark: string) => Promise<Page<T>>, limit = Infinity): Promise<T[]> {
  const items: T[] = [];
  let bookmark = '';
  do {
    const page = await fetch(bookmark);
    items.push(...page.items);
    bookmark = page.items.length === 0 ? '' : page.bookmark;
  } while (bookmark !== '' && items.length < limit);
  return items.slice(0, limit);
}
