/**
 * The lab's fleet of N identical hosts for scale tests and bench/fanout (see ./family).
 *
 * @module
 */
export { FleetFamily, fleetHostNames, writeFleetFiles, FLEET_MAX_HOSTS, FLEET_RESTART_EFFECT, FLEET_SERVICE, type FleetHost, type FleetManifest, type FleetOptions } from './family';
