/**
 * @bypass/pmd: poll-mode drivers (issues 5 and 6): the ethdev API, ring/null/pcap/tap/fault
 * drivers, Toeplitz RSS with RETA and a software dispatcher. Nothing is exported yet.
 */
export {};
