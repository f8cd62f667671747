#ifndef G3_VERSION_H
#define G3_VERSION_H
#define GEN3DB_VERSION "0.1.0"
#endif
