// Positional counts of the in-process dev benches (apply, publish): `--help` prints the usage; a
// missing count takes its default; anything but a whole positive number is one line on stderr and
// exit status 2, not a stack trace.

/** The counts named in `names` (in order), from the command line or `defaults`. */
export function countArgs(usage: string, names: readonly string[], defaults: readonly number[]): number[] {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`usage: ${usage}\n`);
    process.exit(0);
  }
  const refuse = (why: string): never => {
    process.stderr.write(`${why}\nusage: ${usage}\n`);
    process.exit(2);
  };
  if (args.length > names.length)
    refuse(`expected at most ${names.length} argument${names.length === 1 ? "" : "s"}, got ${args.length}`);
  return names.map((name, index) => {
    const text = args[index];
    if (text === undefined) return defaults[index]!;
    const value = Number(text);
    if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(value) || value < 1)
      refuse(`${name} must be a whole positive number, got ${JSON.stringify(text)}`);
    return value;
  });
}
