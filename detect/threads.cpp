#include <opencv2/core.hpp>
#include "threads.h"

void pm_set_num_threads(int n) { cv::setNumThreads(n); }
int pm_get_num_threads(void) { return cv::getNumThreads(); }
