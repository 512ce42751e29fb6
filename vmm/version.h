#ifndef GMM_VMM_VERSION_H
#define GMM_VMM_VERSION_H
#define GMM_VERSION "0.1.0"
#endif
