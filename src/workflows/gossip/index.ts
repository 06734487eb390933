/** The gossip cluster's recovery workflows (seed 003). @module */
export {};
