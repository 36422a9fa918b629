/** An assembly error: `line` is the 1-based source line; the message starts with "line N: ". */
export class AsmError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'AsmError';
    this.line = line;
  }
}
