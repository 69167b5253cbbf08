/** Parsed JSON, as the FHIR adapter walks it. */

/** A parsed JSON object (a resource, a data type or a Bundle entry). */
export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
