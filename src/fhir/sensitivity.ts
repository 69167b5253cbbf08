/**
 * Sensitive-information code tables. A coding found here forces its resource to PRIVATE and adds v3-ActCode
 * sensitivity labels (meta.security). The tables are data: extend them, do not add logic.
 *
 * Label choice (v3 ActCode, _ActInformationSensitivityPolicy, as shipped with R4):
 * - HIV  — HIV/AIDS (conditions, HIV tests whatever their result, antiretrovirals)
 * - MH   — mental health (psychological disorders); PSY is narrower (psychiatric disorders) and overlaps, so only MH is used
 * - SUD  — substance use disorder, refined by ETHUD (alcohol) and OPIOIDUD (opioids). ETH (the older "substance
 *          abuse" code) is not emitted, but kept when a source sends it. Tobacco/nicotine is not SUD (as in 42 CFR Part 2).
 * - STD  — sexually transmitted disease (conditions and tests)
 * - SEX  — sexuality and reproductive health (pregnancy, contraception, infertility, pregnancy tests)
 * - SDV  — sexual assault, abuse, domestic violence
 * Routine screening instruments (PHQ-2/9, GAD-7, AUDIT-C, DAST-10) are deliberately not listed: they are given to
 * everyone, and a positive screen is followed by a coded condition, which is.
 */

export const SENSITIVITY_CODES = ['HIV', 'MH', 'SUD', 'ETHUD', 'OPIOIDUD', 'STD', 'SEX', 'SDV'] as const;
export type SensitivityCode = (typeof SENSITIVITY_CODES)[number];

/**
 * Every v3-ActCode sensitivity policy code (R4 ActCode + the SPI additions). An input resource that already carries
 * one of these in meta.security keeps it and is PRIVATE.
 */
export const KNOWN_SENSITIVITY_LABELS: ReadonlySet<string> = new Set([
  'ETH', 'GDIS', 'HIV', 'SDV', 'SEX', 'SICKLE', 'STD', 'TBOO', 'SPI', 'BH', 'MH', 'PSY', 'PSYTHPN', 'SUD', 'ETHUD',
  'OPIOIDUD', 'DEMO', 'DIA', 'EMP', 'PDS', 'PRS', 'COMDIS',
]);

export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
/** DICOM controlled terminology (DCM): imaging concepts, audit event types. */
export const DICOM = 'http://dicom.nema.org/resources/ontology/DCM';
/** Canonical URIs seen for the CIEL dictionary (OpenMRS); CIEL has no HL7-registered URI. */
export const CIEL_SYSTEMS: ReadonlySet<string> = new Set([
  'https://cielterminology.org',
  'https://openconceptlab.org/orgs/CIEL/sources/CIEL',
  'https://api.openconceptlab.org/orgs/CIEL/sources/CIEL',
]);

type Table = Readonly<Record<string, readonly SensitivityCode[]>>;

const HIV: readonly SensitivityCode[] = ['HIV'];
const MH: readonly SensitivityCode[] = ['MH'];
const SUD: readonly SensitivityCode[] = ['SUD'];
const ALCOHOL: readonly SensitivityCode[] = ['SUD', 'ETHUD'];
const OPIOID: readonly SensitivityCode[] = ['SUD', 'OPIOIDUD'];
const STD: readonly SensitivityCode[] = ['STD'];
const SEX: readonly SensitivityCode[] = ['SEX'];
const SDV: readonly SensitivityCode[] = ['SDV'];

/** SNOMED CT concepts (exact codes; no subsumption without a terminology server). */
export const SNOMED_CODES: Table = {
  '86406008': HIV, // HIV infection
  '62479008': HIV, // AIDS
  '165816005': HIV, // HIV positive
  '91947003': HIV, // asymptomatic HIV infection
  '111880001': HIV, // acute HIV infection
  '74732009': MH, // mental disorder
  '35489007': MH, // depressive disorder
  '370143000': MH, // major depressive disorder
  '36923009': MH, // major depression, single episode
  '197480006': MH, // anxiety disorder
  '47505003': MH, // post-traumatic stress disorder
  '58214004': MH, // schizophrenia
  '13746004': MH, // bipolar disorder
  '69322001': MH, // psychotic disorder
  '6471006': MH, // suicidal thoughts
  '82313006': MH, // suicide attempt
  '7200002': ALCOHOL, // alcoholism
  '15167005': ALCOHOL, // alcohol abuse
  '66590003': ALCOHOL, // alcohol dependence
  '5602001': OPIOID, // opioid abuse
  '75544000': OPIOID, // opioid dependence
  '26416006': SUD, // drug abuse
  '191816009': SUD, // drug dependence
  '6525002': SUD, // dependent drug abuse
  '55680006': SUD, // drug overdose
  '8098009': STD, // sexually transmitted infectious disease
  '76272004': STD, // syphilis
  '15628003': STD, // gonorrhoea
  '105629000': STD, // chlamydial infection
  '240589008': STD, // Chlamydia trachomatis infection
  '33839006': STD, // genital herpes simplex
  '266113007': STD, // genital warts
  '77386006': SEX, // pregnancy
  '72892002': SEX, // normal pregnancy
  '47200007': SEX, // high-risk pregnancy
  '79586000': SEX, // tubal pregnancy
  '19169002': SEX, // miscarriage in first trimester
  '66348005': SEX, // childbirth
  '706893006': SDV, // victim of intimate partner abuse
};

/** LOINC tests and panels. */
export const LOINC_CODES: Table = {
  '75622-1': HIV, // HIV 1+2 Ag+Ab [Presence], immunoassay
  '56888-1': HIV, // HIV 1+2 Ab + HIV 1 p24 Ag [Presence]
  '7917-8': HIV, // HIV 1 Ab [Presence]
  '7918-6': HIV, // HIV 1+2 Ab [Presence]
  '29893-5': HIV, // HIV 1 Ab [Presence], immunoassay
  '68961-2': HIV, // HIV 1 Ab [Presence], immunoassay
  '31201-7': HIV, // HIV 1+2 Ab [Presence], rapid immunoassay
  '5221-7': HIV, // HIV 1 Ab [Presence], immunoblot
  '25836-8': HIV, // HIV 1 RNA [#/volume] (viral load), NAA
  '20447-9': HIV, // HIV 1 RNA [#/volume] (viral load), probe amplification
  '20507-0': STD, // reagin Ab (RPR)
  '5292-8': STD, // reagin Ab (VDRL)
  '21613-5': STD, // Chlamydia trachomatis DNA, NAA
  '43304-5': STD, // Chlamydia trachomatis rRNA, NAA
  '24111-7': STD, // Neisseria gonorrhoeae DNA, NAA
  '43305-2': STD, // Neisseria gonorrhoeae rRNA, NAA
  '2106-3': SEX, // choriogonadotropin [Presence] in urine (pregnancy test)
  '2118-8': SEX, // choriogonadotropin [Presence] in serum or plasma
  '19080-1': SEX, // choriogonadotropin [Units/volume] in serum or plasma
};

/** RxNorm ingredients of antiretrovirals. Product-level codes (SCD/SBD) need an ingredient lookup, not done here. */
export const RXNORM_CODES: Table = {
  '11413': HIV, // zidovudine
  '68244': HIV, // lamivudine
  '53654': HIV, // nevirapine
  '195085': HIV, // efavirenz
  '190521': HIV, // abacavir
  '276237': HIV, // emtricitabine
  '195088': HIV, // lopinavir
  '343047': HIV, // atazanavir
  '460132': HIV, // darunavir
  '719872': HIV, // raltegravir
  '1433868': HIV, // dolutegravir
};

/**
 * CIEL concept ids (OpenMRS). The Synthea HIV sample bundles carry CIEL concepts as "concept UUIDs" (the id padded
 * with 'A' to 36 characters, e.g. `856AAAA…`) under the LOINC and SNOMED system URIs, so they are recognised by form.
 */
export const CIEL_CODES: Table = {
  '138405': HIV, // HIV disease
  '856': HIV, // HIV viral load
  '1030': HIV, // HIV DNA PCR, qualitative
  '1040': HIV, // HIV rapid test, qualitative
  '1042': HIV, // HIV enzyme immunoassay, qualitative
  '159911': HIV, // patient reported current antiretroviral treatment
  '1088': HIV, // current antiretroviral drugs used for treatment
  '1255': HIV, // antiretroviral plan
  '1250': HIV, // antiretrovirals started
  '5424': HIV, // other antiretroviral drug
  '70056': HIV, // abacavir
  '74807': HIV, // didanosine
  '75523': HIV, // efavirenz
  '78643': HIV, // lamivudine
  '80487': HIV, // nelfinavir
  '80586': HIV, // nevirapine
  '84309': HIV, // stavudine
  '84795': HIV, // tenofovir
  '86663': HIV, // zidovudine
  '630': HIV, // lamivudine / zidovudine
  '794': HIV, // lopinavir / ritonavir
  '1652': HIV, // lamivudine / nevirapine / zidovudine
  '104565': HIV, // efavirenz / emtricitabine / tenofovir
  '104567': HIV, // emtricitabine / tenofovir
  '299': STD, // VDRL
  '1032': STD, // Treponema pallidum haemagglutination assay
  '1619': STD, // rapid plasma reagin
  '45': SEX, // urine pregnancy test
};

/**
 * ICD-10 / ICD-10-CM ranges on the code without its dot, compared on the first `from.length` characters, so
 * `F10`–`F16` covers F10.20 and F16.9, and `R45851` is the single code R45.851.
 */
interface IcdRange {
  readonly from: string;
  readonly to: string;
  readonly labels: readonly SensitivityCode[];
}
const range = (from: string, to: string, labels: readonly SensitivityCode[]): IcdRange => ({ from, to, labels });

export const ICD10_RANGES: readonly IcdRange[] = [
  range('B20', 'B24', HIV), // HIV disease
  range('Z21', 'Z21', HIV), // asymptomatic HIV infection status
  range('R75', 'R75', HIV), // inconclusive laboratory evidence of HIV
  range('O987', 'O987', HIV), // HIV disease complicating pregnancy
  range('B9735', 'B9735', HIV), // HIV-2 as the cause of disease
  range('Z114', 'Z114', HIV), // screening for HIV
  range('Z206', 'Z206', HIV), // contact with / exposure to HIV
  range('Z717', 'Z717', HIV), // HIV counselling
  range('F01', 'F09', MH), // mental disorders due to known physiological conditions
  range('F20', 'F99', MH), // schizophrenia … unspecified mental disorder
  range('R45851', 'R45851', MH), // suicidal ideation
  range('T1491', 'T1491', MH), // suicide attempt
  range('Z915', 'Z915', MH), // personal history of self-harm
  range('F10', 'F10', ALCOHOL),
  range('F11', 'F11', OPIOID),
  range('F12', 'F16', SUD), // F17 nicotine dependence is left out on purpose
  range('F18', 'F19', SUD),
  range('Z7141', 'Z7141', ALCOHOL), // alcohol abuse counselling
  range('Z7151', 'Z7151', SUD), // drug abuse counselling
  range('O9931', 'O9932', SUD), // alcohol / drug use complicating pregnancy
  range('A50', 'A64', STD), // infections with a predominantly sexual mode of transmission
  range('Z113', 'Z113', STD), // screening for sexually transmitted infections
  range('Z202', 'Z202', STD), // contact with sexually transmitted infections
  range('O00', 'O9A', SEX), // pregnancy, childbirth and the puerperium
  range('Z30', 'Z39', SEX), // contraception, procreation, pregnancy, delivery, postpartum
  range('Z3A', 'Z3A', SEX), // weeks of gestation
  range('N46', 'N46', SEX), // male infertility
  range('N97', 'N97', SEX), // female infertility
  range('T74', 'T74', SDV), // abuse, confirmed
  range('T76', 'T76', SDV), // abuse, suspected
  range('Z044', 'Z044', SDV), // examination following alleged rape
  range('Z69', 'Z69', SDV), // mental health services for victims and perpetrators of abuse
  range('Y07', 'Y07', SDV), // perpetrator of assault, maltreatment and neglect
];

export interface SensitivityMatch {
  readonly labels: readonly SensitivityCode[];
  /** which table matched, e.g. `ICD-10 F10–F10` or `CIEL 856`; codes only, never display text */
  readonly rule: string;
}

/** `856AAAA…` (36 characters) → `856`: OpenMRS/CIEL concept UUIDs. */
export function cielConceptId(code: string): string | undefined {
  const m = /^(\d{1,7})A+$/.exec(code);
  return m && code.length === 36 ? m[1] : undefined;
}

function icd10(code: string): SensitivityMatch | undefined {
  const c = code.replace('.', '').toUpperCase();
  // Several ranges may match (O99.31 is both SUD and pregnancy); merge them.
  const hits = ICD10_RANGES.filter((r) => {
    const head = c.slice(0, r.from.length);
    return head.length === r.from.length && head >= r.from && head <= r.to;
  });
  if (hits.length === 0) return undefined;
  return {
    labels: [...new Set(hits.flatMap((h) => h.labels))],
    rule: hits.map((h) => (h.from === h.to ? `ICD-10 ${h.from}` : `ICD-10 ${h.from}–${h.to}`)).join(', '),
  };
}

const fromTable = (table: Table, code: string, name: string): SensitivityMatch | undefined => {
  const labels = Object.hasOwn(table, code) ? table[code] : undefined;
  return labels ? { labels, rule: `${name} ${code}` } : undefined;
};

/** The sensitivity of one coding, or undefined. */
export function sensitivityOf(system: string | undefined, code: string | undefined): SensitivityMatch | undefined {
  if (!code) return undefined;
  const ciel = cielConceptId(code);
  if (ciel !== undefined) return fromTable(CIEL_CODES, ciel, 'CIEL');
  switch (system) {
    case SNOMED:
      return fromTable(SNOMED_CODES, code, 'SNOMED');
    case LOINC:
      return fromTable(LOINC_CODES, code, 'LOINC');
    case RXNORM:
      return fromTable(RXNORM_CODES, code, 'RxNorm');
    case ICD10:
    case ICD10CM:
      return icd10(code);
    default:
      return system !== undefined && CIEL_SYSTEMS.has(system) ? fromTable(CIEL_CODES, code, 'CIEL') : undefined;
  }
}
