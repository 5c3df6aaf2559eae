/** An ethdev call that the port's state or configuration does not allow; says what to do. */
export class EthDevError extends Error {
  override name = 'EthDevError';
}
