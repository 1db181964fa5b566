// Money as people type and read it ("12.50 EUR") against money as the API speaks it (whole minor
// units, e.g. cents). Pure: no DOM, so the tests run it under Node. It never rounds a typed amount:
// "12.505" is refused rather than guessed.

/** How many minor digits `currency` has (2 for EUR, 0 for JPY); 2 when the runtime does not know it. */
export function minorDigits(currency: string): number {
  try {
    const digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits;
    return digits ?? 2;
  } catch {
    return 2;
  }
}

/** "1,250.00" for 125000 cents: grouped, with every minor digit. */
export function formatAmount(minorUnits: number, currency: string): string {
  const digits = minorDigits(currency);
  const negative = minorUnits < 0;
  const absolute = Math.abs(minorUnits);
  const scale = 10 ** digits;
  const whole = Math.floor(absolute / scale);
  const fraction = String(absolute % scale).padStart(digits, "0");
  const grouped = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${negative ? "-" : ""}${grouped}${digits > 0 ? `.${fraction}` : ""}`;
}

/** "1,250.00 EUR". */
export function formatMoney(minorUnits: number, currency: string): string {
  return `${formatAmount(minorUnits, currency)} ${currency}`;
}

/** The amount as it goes into an input field: "1250.00" (no grouping, so it parses back). */
export function inputAmount(minorUnits: number, currency: string): string {
  return formatAmount(minorUnits, currency).replaceAll(",", "");
}

export type ParsedMoney = { ok: true; minorUnits: number } | { ok: false; reason: string };

/**
 * Reads what a person typed: "12.5", "12.50", "12,50", "1,250.00", "1.250,00", "1 250", "12.50 EUR".
 * With both separators the last one is the decimal point; repeated groups of three digits group
 * thousands. A lone separator before exactly three digits ("1,250", "12.505") is refused: it means
 * a thousand times more in some countries than in others, and a bid must never guess.
 */
export function parseMoney(text: string, currency: string): ParsedMoney {
  const digits = minorDigits(currency);
  let cleaned = text.trim().replace(new RegExp(`\\s*${currency}$`, "i"), "");
  cleaned = cleaned.replace(/[\s\u00a0'’]/g, "");
  if (cleaned === "") return { ok: false, reason: "enter an amount" };
  if (!/^\d[\d.,]*$/.test(cleaned)) return { ok: false, reason: "use digits, e.g. 12.50" };
  const split = splitDecimal(cleaned);
  if (split === "ambiguous") return { ok: false, reason: "ambiguous: write e.g. 1250 or 1.25" };
  const { whole, fraction } = split;
  if (!/^\d+$/.test(whole) || !/^\d*$/.test(fraction)) return { ok: false, reason: "use digits, e.g. 12.50" };
  if (fraction.length > digits)
    return { ok: false, reason: digits === 0 ? "whole amounts only" : `at most ${digits} decimals` };
  const minorUnits = Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, "0") || "0");
  if (!Number.isSafeInteger(minorUnits)) return { ok: false, reason: "too large" };
  if (minorUnits <= 0) return { ok: false, reason: "must be more than zero" };
  return { ok: true, minorUnits };
}

function splitDecimal(text: string): { whole: string; fraction: string } | "ambiguous" {
  const lastDot = text.lastIndexOf(".");
  const lastComma = text.lastIndexOf(",");
  if (lastDot >= 0 && lastComma >= 0) {
    const decimal = lastDot > lastComma ? "." : ",";
    const group = decimal === "." ? "," : ".";
    const at = text.lastIndexOf(decimal);
    const whole = text.slice(0, at);
    if (!groupedByThousands(whole.split(group))) return { whole: "x", fraction: "" };
    return { whole: whole.replaceAll(group, ""), fraction: text.slice(at + 1) };
  }
  const separator = lastDot >= 0 ? "." : lastComma >= 0 ? "," : null;
  if (separator === null) return { whole: text, fraction: "" };
  const parts = text.split(separator);
  if (parts.length > 2)
    return groupedByThousands(parts) ? { whole: parts.join(""), fraction: "" } : { whole: "x", fraction: "" };
  if (parts[1]!.length === 3) return "ambiguous";
  return { whole: parts[0]!, fraction: parts[1]! };
}

/** "1", "250", "000": a first group of one to three digits, then groups of exactly three. */
function groupedByThousands(parts: string[]): boolean {
  return parts.every((part, index) =>
    index === 0 ? part.length >= 1 && part.length <= 3 : part.length === 3,
  );
}
