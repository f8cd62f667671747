/*
 * Every getopt_long id of the option fragments that several commands share
 * (opts.h, remoteopts.h, es.h, esbulk.h), in one enum: the compiler numbers
 * them, so no two can be equal, whichever fragments a command combines.
 * (Hand-picked ranges per header once gave --es-jobs the id of
 * --s3-endpoint.)
 *
 * A command numbers its own options in its own enum starting at
 * G3_OPT_COMMAND_FIRST, above every shared id; ids stay below
 * G3_OPT_COMMAND_LIMIT. All ids are above 255, so none is a short option's
 * character or getopt's '?' and ':'. A new shared option is one more
 * member here, next to its fragment's others; never an explicit value.
 * tests/unit/test_options.c checks every command's table against this.
 */
#ifndef G3_OPTIDS_H
#define G3_OPTIDS_H

enum g3_opt_id {
	G3_OPT_FIRST = 0x100,

	/* opts.h: every command */
	G3_OPT_LOG_FORMAT = G3_OPT_FIRST,
	G3_OPT_QUIET,
	G3_OPT_VERBOSE,

	/* remoteopts.h: commands that read or write remote data */
	G3_OPT_S3_ENDPOINT,
	G3_OPT_REGION,
	G3_OPT_NO_SIGN_REQUEST,
	G3_OPT_CA_FILE,
	G3_OPT_RETRIES,
	G3_OPT_S3_PART_SIZE,

	/* es.h: the Elasticsearch connection */
	G3_OPT_ES,
	G3_OPT_ES_CACERT,

	/* esbulk.h: the bulk loader */
	G3_OPT_ES_JOBS,
	G3_OPT_BULK_SIZE,
	G3_OPT_ES_RETRIES,
	G3_OPT_ES_GZIP,
	G3_OPT_ES_RETRY_TIME,

	/* esrestore.h: what a restore of an index keeps */
	G3_OPT_KEEP_VERSIONS,

	/* a command's own options: enum { OPT_X = G3_OPT_COMMAND_FIRST, ... } */
	G3_OPT_COMMAND_FIRST,
	G3_OPT_COMMAND_LIMIT = G3_OPT_COMMAND_FIRST + 256
};

#endif
