/** element-path.ts: interned element paths and their facts, and the bound on what is kept. */
import { ElementPaths } from '../../src/fhir/element-path.js';

describe('ElementPaths', () => {
  it('gives one object per path, with the facts worked out once', () => {
    const seen: string[] = [];
    const paths = new ElementPaths((path) => {
      seen.push(path);
      return path.length;
    });
    const code = paths.root('Observation').child('code');
    expect(code.path).toBe('Observation.code');
    expect(paths.root('Observation').child('code')).toBe(code);
    expect(code.child('coding').path).toBe('Observation.code.coding');
    expect([code.facts, code.facts]).toEqual([16, 16]);
    expect(seen).toEqual(['Observation.code']);
  });

  it('keeps at most maxInterned paths: past that, paths are right but built anew', () => {
    const paths = new ElementPaths((path) => path.toUpperCase(), 2);
    const root = paths.root('Patient');
    const name = root.child('name');
    const other = root.child('gender');
    expect(root.child('name')).toBe(name);
    expect(root.child('gender')).not.toBe(other);
    expect(other.path).toBe('Patient.gender');
    expect(other.facts).toBe('PATIENT.GENDER');
    expect(paths.root('Observation')).not.toBe(paths.root('Observation'));
  });
});
