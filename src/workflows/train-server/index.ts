/** The train server's recovery workflows (seed 004). @module */
export { trainServerTotalDataLoss } from './total-data-loss';
export { trainServerCacheSsd } from './cache-ssd';
export { trainServerPowerOutage } from './power-outage';
export { trainServerOsDisk } from './os-disk';
export { trainServerBtrfsCorruption } from './btrfs-corruption';
