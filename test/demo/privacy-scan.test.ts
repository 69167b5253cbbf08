// The scenario's privacy scan finds an identifying string wherever it stands as a token (inside JSON, a FHIR
// address, plain text) and not where the same digits turn up by chance inside hex or a longer number.
import { occursAsToken } from '../../src/demo/scenario.js';

const has = (text: string, needle: string): boolean => occursAsToken(Buffer.from(text, 'utf8'), Buffer.from(needle, 'utf8'));

test('a postal code or a name as a token is found', () => {
  expect(has('{"postalCode":"01562","city":"Spencer"}', '01562')).toBe(true);
  expect(has('01562', '01562')).toBe(true);
  expect(has('line 1\n01562 Spencer MA', '01562')).toBe(true);
  expect(has('{"family":"Gutkowski940"}', 'Gutkowski940')).toBe(true);
  // found at the second occurrence when the first is inside hex
  expect(has('a01562f then "01562"', '01562')).toBe(true);
  // a binary neighbour is not a letter or a digit
  expect(occursAsToken(Buffer.concat([Buffer.from([0x00, 0x12]), Buffer.from('01562'), Buffer.from([0xff])]), Buffer.from('01562'))).toBe(true);
});

test('the same digits inside hex, an id or a longer number are not', () => {
  expect(has('3045022100ab015627f1', '01562')).toBe(false);
  expect(has('emr-9c01562d4e', '01562')).toBe(false);
  expect(has('"size":1015620', '01562')).toBe(false);
  expect(has('nothing here', '01562')).toBe(false);
});
