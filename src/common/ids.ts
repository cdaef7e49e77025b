import { v7 as uuidv7 } from 'uuid';

/** Every id Vitrine issues is a UUIDv7: time-ordered, so b-tree inserts stay local. */
export function newId(): string {
  return uuidv7();
}
