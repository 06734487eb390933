/** The train server's recovery workflows (seed 004). @module */
export {};
